import ldap
from ldap.filter import escape_filter_chars
from flask import Flask, request

app = Flask(__name__)


@app.post("/login")
def login():
    user = escape_filter_chars(request.form["user"])
    conn = ldap.initialize("ldap://ldap.example.com")
    query = "(&(objectClass=person)(uid=%s))" % user
    result = conn.search_s("ou=people,dc=example,dc=com", ldap.SCOPE_SUBTREE, query)
    return {"found": bool(result)}
