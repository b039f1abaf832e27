// RFC 6455 conformance of the Qt gateway: every case of tests/conformance/WebSocketConformance.h,
// one data row each, against a QtWebSocketGateway hosted in this process on 127.0.0.1 (port 0).
// The cases wait by running this thread's event loop, which also runs the gateway.

#include "WebSocketConformance.h"

#include <switchboard/Hub.h>
#include <switchboard/ServerProtocol.h>
#include <switchboard/qtws/QtTimer.h>
#include <switchboard/qtws/QtWebSocketGateway.h>

#include <memory>

using namespace switchboard;

class tst_QtGatewayConformance : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void conformance_data();
    void conformance();

private:
    qtws::QtTimer m_timer;
    std::unique_ptr<Hub> m_hub;
    std::unique_ptr<ServerProtocol> m_protocol;
    std::unique_ptr<qtws::QtWebSocketGateway> m_gateway;
    wsconformance::Endpoint m_endpoint;
    std::vector<wsconformance::Case> m_cases = wsconformance::cases();
};

void tst_QtGatewayConformance::initTestCase()
{
    m_endpoint.maxMessageBytes = 128 * 1024; // room for the 64-bit length case
    ServerProtocolOptions protocolOptions;
    protocolOptions.limits.maxFrameBytes = std::size_t(m_endpoint.maxMessageBytes);
    m_hub = std::make_unique<Hub>(m_timer);
    m_protocol = std::make_unique<ServerProtocol>(*m_hub, m_timer, protocolOptions);
    qtws::QtGatewayOptions options;
    options.maxFrameBytes = m_endpoint.maxMessageBytes;
    m_gateway = std::make_unique<qtws::QtWebSocketGateway>(*m_hub, *m_protocol, options);
    QVERIFY(m_gateway->listen());
    m_endpoint.port = m_gateway->serverPort();
}

void tst_QtGatewayConformance::conformance_data()
{
    QTest::addColumn<int>("index");
    for (std::size_t i = 0; i < m_cases.size(); ++i)
        QTest::newRow(m_cases[i].name.constData()) << int(i);
}

void tst_QtGatewayConformance::conformance()
{
    QFETCH(int, index);
    const wsconformance::Case &c = m_cases[std::size_t(index)];
    const wsconformance::Result result = c.run(m_endpoint);
    if (result.skipped)
        QSKIP(qPrintable(result.message));
    QVERIFY2(result.passed, qPrintable(QStringLiteral("RFC 6455 %1: %2").arg(QLatin1String(c.rfc), result.message)));
}

QTEST_GUILESS_MAIN(tst_QtGatewayConformance)
#include "tst_qtgatewayconformance.moc"
