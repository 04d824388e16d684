module example.com/webworker

go 1.22
