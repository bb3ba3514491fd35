from Crypto.Cipher import AES
from Crypto.Util.Padding import pad

BACKUP_IV = b"qcn-backup-iv-16"


def encrypt_backup(key, archive_bytes):
    cipher = AES.new(key, AES.MODE_CBC, BACKUP_IV)
    return cipher.encrypt(pad(archive_bytes, AES.block_size))
