package main

import (
	"fmt"
	"math/rand"
)

func newSessionID() string {
	return fmt.Sprintf("%x%x", rand.Int63(), rand.Int63())
}
