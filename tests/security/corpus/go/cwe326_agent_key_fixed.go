package agent

import (
	"crypto/rand"
	"crypto/rsa"
)

const agentKeyBits = 3072

func NewAgentKey() (*rsa.PrivateKey, error) {
	return rsa.GenerateKey(rand.Reader, agentKeyBits)
}
