// Looks up a product by shelf number given on the command line.
#include <array>
#include <iostream>
#include <string>

static const std::array<const char *, 4> shelves = {"bolts", "nuts", "washers", "screws"};

int main(int argc, char **argv)
{
    if (argc < 2) {
        std::cerr << "usage: inventory SHELF\n";
        return 2;
    }
    int shelf = std::stoi(argv[1]);
    std::cout << "shelf " << shelf << ": " << shelves[shelf] << "\n";
    return 0;
}
