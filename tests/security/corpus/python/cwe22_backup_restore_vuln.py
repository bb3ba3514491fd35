"""Restore a site backup uploaded as a zip file into the media folder."""

import os
import zipfile

MEDIA_ROOT = "/srv/site/media"


def restore_backup(archive_path: str) -> int:
    """Unpack every file of the backup under MEDIA_ROOT; returns how many were written."""
    written = 0
    with zipfile.ZipFile(archive_path) as backup:
        for info in backup.infolist():
            if info.is_dir():
                continue
            target = os.path.join(MEDIA_ROOT, info.filename)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as out:
                out.write(backup.read(info))
            written += 1
    return written
