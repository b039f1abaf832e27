// RFC 6455 conformance of switchboard-gateway: every case of tests/conformance/
// WebSocketConformance.h, one data row each, against one gateway process.
#include "GatewayProcess.h"
#include "WebSocketConformance.h"

using namespace gatewaytest;

class tst_WebSocketConformance : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void conformance_data();
    void conformance();
    void refusalsAreCounted();

private:
    GatewayProcess m_gateway;
    wsconformance::Endpoint m_endpoint;
    std::vector<wsconformance::Case> m_cases = wsconformance::cases();
};

void tst_WebSocketConformance::initTestCase()
{
    m_endpoint.maxMessageBytes = 128 * 1024; // room for the 64-bit length case
    QVERIFY(m_gateway.start({"--max-frame-size", QString::number(m_endpoint.maxMessageBytes)}));
    m_endpoint.port = m_gateway.port();
}

void tst_WebSocketConformance::conformance_data()
{
    QTest::addColumn<int>("index");
    for (std::size_t i = 0; i < m_cases.size(); ++i)
        QTest::newRow(m_cases[i].name.constData()) << int(i);
}

void tst_WebSocketConformance::conformance()
{
    QFETCH(int, index);
    const wsconformance::Case &c = m_cases[std::size_t(index)];
    const wsconformance::Result result = c.run(m_endpoint);
    if (result.skipped)
        QSKIP(qPrintable(result.message));
    QVERIFY2(result.passed, qPrintable(QStringLiteral("RFC 6455 %1: %2").arg(QLatin1String(c.rfc), result.message)));
}

/// After every case: what the gateway refused is in /metrics (the suite itself knows no gateway).
void tst_WebSocketConformance::refusalsAreCounted()
{
    QNetworkAccessManager nam;
    const auto m = metrics(nam, m_gateway);
    // Missing key, 8-byte key, version 8, missing version.
    QCOMPARE(m.value("switchboard_websocket_handshakes_refused_total"), 4.0);
    QVERIFY(m.value("switchboard_websocket_protocol_violations_total") >= 20); // the 1002 cases
    QVERIFY(m.value("switchboard_invalid_utf8_total") >= 7);
    QVERIFY(m.value("switchboard_oversize_frames_total") >= 3);
}

QTEST_MAIN(tst_WebSocketConformance)
#include "tst_websocketconformance.moc"
