package store

import (
	"os"
	"path/filepath"
)

type Store struct {
	Root string
}

func (s *Store) Load(key string) ([]byte, error) {
	return os.ReadFile(filepath.Join(s.Root, "blobs", key))
}
