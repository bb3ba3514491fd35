package store

import (
	"errors"
	"os"
	"path/filepath"
)

type Store struct {
	Root string
}

func (s *Store) Load(key string) ([]byte, error) {
	if !filepath.IsLocal(key) {
		return nil, errors.New("store: key leaves the blob folder")
	}
	return os.ReadFile(filepath.Join(s.Root, "blobs", key))
}
