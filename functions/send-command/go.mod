module github.com/asgdns/asgdns/functions/send-command

go 1.26

require github.com/asgdns/asgdns/workflow v0.0.0

replace github.com/asgdns/asgdns/workflow => ../../workflow
