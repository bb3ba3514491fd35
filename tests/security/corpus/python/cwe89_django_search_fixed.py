from django.db import connection
from django.http import JsonResponse

ORDERS = {"name": "name", "price": "price"}


def search(request):
    term = request.GET.get("q", "")
    order = ORDERS.get(request.GET.get("order"), "name")
    sql = "SELECT id, name FROM products WHERE name LIKE %s ORDER BY " + order
    with connection.cursor() as cursor:
        cursor.execute(sql, ["%" + term + "%"])
        rows = cursor.fetchall()
    return JsonResponse({"rows": rows})
