import psycopg2

DB_HOST = "db.internal"
DB_USER = "billing"
DB_PASSWORD = "b1ll1ng-Pr0d-2024"


def connect():
    return psycopg2.connect(host=DB_HOST, user=DB_USER, password=DB_PASSWORD)
