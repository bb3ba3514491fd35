"""Live updates: following the file system while the editor works."""
