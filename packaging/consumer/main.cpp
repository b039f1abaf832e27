// Links the static core and the shared Qt library from the packages and uses both: prints
// "consumer ok" and exits 0 when they work.
#include <switchboard/ChannelName.h>
#include <switchboard/qt/Client.h>

#include <QCoreApplication>
#include <cstdio>

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    if (switchboard::validateChannelName("panel/status") || !switchboard::validateChannelName(""))
        return 1;
    switchboard::qt::Client client;
    client.setUrl(QUrl(QStringLiteral("ws://127.0.0.1:1/ws")));
    if (client.url().port() != 1)
        return 2;
    std::puts("consumer ok");
    return 0;
}
