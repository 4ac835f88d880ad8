package main

import (
	"log"
	"os"
)

// writeFile writes s atomically (temp file + rename) so a poller never reads half of it.
func writeFile(path, s string) {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(s), 0o644); err != nil {
		log.Fatalf("write %s: %v", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		log.Fatalf("rename %s: %v", tmp, err)
	}
}
