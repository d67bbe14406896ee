module github.com/asgdns/asgdns/shared-services

go 1.26

require gopkg.in/yaml.v3 v3.0.1

replace github.com/asgdns/asgdns/workflow => ../workflow
