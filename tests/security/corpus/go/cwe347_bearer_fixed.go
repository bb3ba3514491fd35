package auth

import "github.com/golang-jwt/jwt/v5"

func Subject(bearer string, key []byte) (string, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"})).ParseWithClaims(bearer, claims,
		func(t *jwt.Token) (any, error) { return key, nil })
	if err != nil {
		return "", err
	}
	return claims.GetSubject()
}
