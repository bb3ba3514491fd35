import jwt


def user_from_header(auth_header, signing_key):
    token = auth_header.removeprefix("Bearer ")
    claims = jwt.decode(token, signing_key, algorithms=["HS256"], options={"require": ["exp", "sub"]})
    return claims["sub"], claims.get("role", "viewer")
