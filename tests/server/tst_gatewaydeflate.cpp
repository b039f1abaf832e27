// permessage-deflate in switchboard-gateway: the shared RFC 7692 cases
// (tests/conformance/PerMessageDeflateConformance.h), the HTTP API's `compress`, the
// --permessage-deflate off switch, and the metrics that count it all.
#include "GatewayProcess.h"
#include "PerMessageDeflateConformance.h"

using namespace gatewaytest;
using namespace wsconformance;

class tst_GatewayDeflate : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void conformance_data();
    void conformance();
    void httpApiPublishTakesCompress();
    void metricsCountCompressionAndRefusals();
    void offSwitchDeclinesTheExtension();

private:
    GatewayProcess m_gateway;
    Endpoint m_endpoint;
    std::vector<Case> m_cases = deflateCases();
};

void tst_GatewayDeflate::initTestCase()
{
    m_endpoint.maxMessageBytes = 64 * 1024;
    QVERIFY(m_gateway.start({"--max-frame-size", QString::number(m_endpoint.maxMessageBytes)}));
    m_endpoint.port = m_gateway.port();
}

void tst_GatewayDeflate::conformance_data()
{
    QTest::addColumn<int>("index");
    for (std::size_t i = 0; i < m_cases.size(); ++i)
        QTest::newRow(m_cases[i].name.constData()) << int(i);
}

void tst_GatewayDeflate::conformance()
{
    QFETCH(int, index);
    const Case &c = m_cases[std::size_t(index)];
    const Result result = c.run(m_endpoint);
    QVERIFY2(result.passed, qPrintable(QStringLiteral("RFC 7692 %1: %2").arg(QLatin1String(c.rfc), result.message)));
}

void tst_GatewayDeflate::httpApiPublishTakesCompress()
{
    detail::RawClient c(m_endpoint);
    QString error;
    QVERIFY2(pmd::join(c, pmd::kBrowserOffer, "api-deflate", error), qPrintable(error));
    const QJsonObject data = QJsonDocument::fromJson(pmd::kilobyteJson()).object();
    QNetworkAccessManager nam;
    QCOMPARE(publish(nam, m_gateway, {{"channel", "api-deflate"}, {"event", "zipped"}, {"data", data}, {"compress", true}}).status, 200);
    QCOMPARE(publish(nam, m_gateway, {{"channel", "api-deflate"}, {"event", "plain"}, {"data", data}}).status, 200);
    QCOMPARE(publish(nam, m_gateway, {{"channel", "api-deflate"}, {"data", 1}, {"compress", "yes"}}).status, 400);
    const auto zipped = pmd::readOp(c, "message");
    QVERIFY2(zipped, qPrintable(c.error()));
    QCOMPARE(pmd::json(*zipped).value("event").toString(), QStringLiteral("zipped"));
    QVERIFY(zipped->rsv1);
    QCOMPARE(pmd::json(*zipped).value("data").toObject(), data);
    const auto plain = pmd::readOp(c, "message");
    QVERIFY2(plain, qPrintable(c.error()));
    QCOMPARE(pmd::json(*plain).value("event").toString(), QStringLiteral("plain"));
    QVERIFY(!plain->rsv1);
}

void tst_GatewayDeflate::metricsCountCompressionAndRefusals()
{
    QNetworkAccessManager nam;
    const auto m = metrics(nam, m_gateway);
    QVERIFY(m.value("switchboard_websocket_deflate_sessions_total") >= 6);
    // Two deflate subscribers got the compressed publication, then one API subscriber: each
    // publication is compressed once.
    QCOMPARE(m.value("switchboard_websocket_deflate_compressions_total"), 2.0);
    QCOMPARE(m.value("switchboard_websocket_deflate_frames_out_total"), 3.0);
    QVERIFY(m.value("switchboard_websocket_deflate_bytes_saved_total") > 3 * 500);
    QVERIFY(m.value("switchboard_websocket_deflate_messages_in_total") >= 2);
    QCOMPARE(m.value("switchboard_websocket_inflate_refused_total"), 1.0);
    QVERIFY(m.value("switchboard_invalid_utf8_total") >= 1); // the corrupt stream (1007)
}

void tst_GatewayDeflate::offSwitchDeclinesTheExtension()
{
    GatewayProcess off;
    QVERIFY(off.start({"--permessage-deflate", "off"}));
    Endpoint e = m_endpoint;
    e.port = off.port();
    detail::RawClient c(e);
    c.offerExtensions(pmd::kBrowserOffer);
    QVERIFY2(c.open(), qPrintable(c.error()));
    QVERIFY(c.extensions().isEmpty());
    // Without the extension a compressed frame is a protocol error.
    c.send(detail::FrameSpec{detail::Text, pmd::compress(detail::connectMessage()), true, true, 0x40});
    QCOMPARE(c.readCloseCode(), 1002);
}

QTEST_MAIN(tst_GatewayDeflate)
#include "tst_gatewaydeflate.moc"
