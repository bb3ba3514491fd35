from django.db import connection
from django.http import JsonResponse


def search(request):
    term = request.GET.get("q", "")
    order = request.GET.get("order", "name")
    sql = "SELECT id, name FROM products WHERE name LIKE '%%" + term + "%%' ORDER BY " + order
    with connection.cursor() as cursor:
        cursor.execute(sql)
        rows = cursor.fetchall()
    return JsonResponse({"rows": rows})
