module github.com/asgdns/asgdns/shared-services

go 1.26

require gopkg.in/yaml.v3 v3.0.1

require github.com/aws/smithy-go v1.28.9 // indirect

require github.com/asgdns/asgdns/workflow v0.0.0

// The other modules of this repository (go.work joins them; these
// make each module build and tidy on its own).
replace github.com/asgdns/asgdns/workflow => ../workflow
