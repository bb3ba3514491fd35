package agent

import (
	"crypto/rand"
	"crypto/rsa"
)

const agentKeyBits = 1024

func NewAgentKey() (*rsa.PrivateKey, error) {
	return rsa.GenerateKey(rand.Reader, agentKeyBits)
}
