import os

from Crypto.Cipher import AES
from Crypto.Util.Padding import pad


def encrypt_backup(key, archive_bytes):
    iv = os.urandom(16)
    cipher = AES.new(key, AES.MODE_CBC, iv)
    return iv + cipher.encrypt(pad(archive_bytes, AES.block_size))
