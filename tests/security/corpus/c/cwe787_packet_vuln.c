#include <string.h>
#include <sys/socket.h>

void on_packet(int fd) {
    unsigned char header[2];
    char payload[64];
    char wire[512];
    recv(fd, header, sizeof(header), 0);
    recv(fd, wire, sizeof(wire), 0);
    unsigned int len = header[0] | (header[1] << 8);
    memcpy(payload, wire, len);
}
