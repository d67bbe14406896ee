module github.com/asgdns/asgdns/asl

go 1.26
