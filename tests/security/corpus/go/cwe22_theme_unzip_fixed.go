package themes

import (
	"archive/zip"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// install unpacks an uploaded theme archive into the themes folder.
func install(upload string, themesDir string) error {
	zr, err := zip.OpenReader(upload)
	if err != nil {
		return err
	}
	defer zr.Close()
	for _, f := range zr.File {
		if !filepath.IsLocal(f.Name) {
			return fmt.Errorf("theme: unsafe entry %q", f.Name)
		}
		path := filepath.Join(themesDir, f.Name)
		if f.FileInfo().IsDir() {
			os.MkdirAll(path, 0o755)
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return err
		}
		out, err := os.Create(path)
		if err != nil {
			rc.Close()
			return err
		}
		_, err = io.Copy(out, rc)
		out.Close()
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
