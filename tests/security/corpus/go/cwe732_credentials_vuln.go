package config

import (
	"encoding/json"
	"os"
)

type Credentials struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

func SaveCredentials(path string, c Credentials) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0644)
}
