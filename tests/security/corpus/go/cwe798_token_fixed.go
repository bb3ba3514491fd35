package main

import "os"

var githubToken = os.Getenv("GITHUB_TOKEN")

func token() string { return githubToken }
