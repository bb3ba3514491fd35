from Crypto.Cipher import DES


def encrypt_card(key, number):
    cipher = DES.new(key, DES.MODE_ECB)
    return cipher.encrypt(number.ljust(16).encode())
