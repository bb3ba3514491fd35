/* A tiny TCP greeter: reads the client's name and answers with a greeting. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void greet(int client)
{
    char name[64];
    char reply[128];
    ssize_t n;

    n = recv(client, name, sizeof name, 0);
    if (n <= 0)
        return;
    name[strcspn(name, "\r\n")] = '\0';
    snprintf(reply, sizeof reply, "hello, %s\n", name);
    send(client, reply, strlen(reply), 0);
}

int serve(int listener)
{
    for (;;) {
        int client = accept(listener, NULL, NULL);
        if (client < 0)
            return -1;
        greet(client);
        close(client);
    }
}
