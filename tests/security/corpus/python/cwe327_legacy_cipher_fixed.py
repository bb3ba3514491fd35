from Crypto.Cipher import AES


def encrypt_card(key, number):
    cipher = AES.new(key, AES.MODE_GCM)
    ciphertext, tag = cipher.encrypt_and_digest(number.encode())
    return cipher.nonce + tag + ciphertext
