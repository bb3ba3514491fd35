package main

var githubToken = "ghp_R3alLooking0Token1234567890abcd"

func token() string { return githubToken }
