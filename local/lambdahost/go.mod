module github.com/asgdns/asgdns/local/lambdahost

go 1.26
