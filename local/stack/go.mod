module github.com/asgdns/asgdns/local/stack

go 1.26

require (
	github.com/asgdns/asgdns/asl v0.0.0
	github.com/asgdns/asgdns/local/cloud v0.0.0
	github.com/asgdns/asgdns/local/lambdahost v0.0.0
	github.com/asgdns/asgdns/local/stepfunctions v0.0.0
)

require (
	github.com/asgdns/asgdns/shared-services v0.0.0-00010101000000-000000000000 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)

replace (
	github.com/asgdns/asgdns/asl => ../../asl
	github.com/asgdns/asgdns/local/cloud => ../cloud
	github.com/asgdns/asgdns/local/lambdahost => ../lambdahost
	github.com/asgdns/asgdns/local/stepfunctions => ../stepfunctions
	github.com/asgdns/asgdns/shared-services => ../../shared-services
	github.com/asgdns/asgdns/workflow => ../../workflow
)
