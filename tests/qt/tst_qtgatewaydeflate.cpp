// permessage-deflate in the Qt gateway: the RFC 7692 cases shared with switchboard-gateway
// (tests/conformance/PerMessageDeflateConformance.h) against a QtWebSocketGateway in this
// process, the counters that record them, and the permessageDeflate switch.

#include "PerMessageDeflateConformance.h"

#include <switchboard/Hub.h>
#include <switchboard/ServerProtocol.h>
#include <switchboard/qtws/QtTimer.h>
#include <switchboard/qtws/QtWebSocketGateway.h>

#include <memory>

using namespace switchboard;
using namespace wsconformance;

class tst_QtGatewayDeflate : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void conformance_data();
    void conformance();
    void countersRecordCompressionAndRefusals();
    void offSwitchDeclinesTheExtension();

private:
    std::unique_ptr<qtws::QtWebSocketGateway> makeGateway(bool deflate);

    qtws::QtTimer m_timer;
    std::unique_ptr<Hub> m_hub;
    std::unique_ptr<ServerProtocol> m_protocol;
    std::unique_ptr<qtws::QtWebSocketGateway> m_gateway;
    Endpoint m_endpoint;
    std::vector<Case> m_cases = deflateCases();
};

std::unique_ptr<qtws::QtWebSocketGateway> tst_QtGatewayDeflate::makeGateway(bool deflate)
{
    qtws::QtGatewayOptions options;
    options.maxFrameBytes = m_endpoint.maxMessageBytes;
    options.permessageDeflate = deflate;
    auto gateway = std::make_unique<qtws::QtWebSocketGateway>(*m_hub, *m_protocol, options);
    return gateway->listen() ? std::move(gateway) : nullptr;
}

void tst_QtGatewayDeflate::initTestCase()
{
    m_endpoint.maxMessageBytes = 64 * 1024;
    ServerProtocolOptions protocolOptions;
    protocolOptions.limits.maxFrameBytes = std::size_t(m_endpoint.maxMessageBytes);
    m_hub = std::make_unique<Hub>(m_timer);
    m_protocol = std::make_unique<ServerProtocol>(*m_hub, m_timer, protocolOptions);
    m_gateway = makeGateway(true);
    QVERIFY(m_gateway);
    m_endpoint.port = m_gateway->serverPort();
}

void tst_QtGatewayDeflate::conformance_data()
{
    QTest::addColumn<int>("index");
    for (std::size_t i = 0; i < m_cases.size(); ++i)
        QTest::newRow(m_cases[i].name.constData()) << int(i);
}

void tst_QtGatewayDeflate::conformance()
{
    QFETCH(int, index);
    const Case &c = m_cases[std::size_t(index)];
    const Result result = c.run(m_endpoint);
    QVERIFY2(result.passed, qPrintable(QStringLiteral("RFC 7692 %1: %2").arg(QLatin1String(c.rfc), result.message)));
}

void tst_QtGatewayDeflate::countersRecordCompressionAndRefusals()
{
    const qtws::QtGatewayCounters c = m_gateway->counters();
    QVERIFY(c.deflateSessions >= 6);
    QCOMPARE(c.deflateCompressions, 1u); // one publication, two deflate subscribers
    QCOMPARE(c.deflateFramesOut, 2u);
    QVERIFY(c.deflateBytesSaved > 2 * 500);
    QVERIFY(c.deflateMessagesIn >= 2);
    QCOMPARE(c.inflateRefused, 1u);
    QCOMPARE(c.oversizeMessages, 0u);
}

void tst_QtGatewayDeflate::offSwitchDeclinesTheExtension()
{
    auto off = makeGateway(false);
    QVERIFY(off);
    Endpoint e = m_endpoint;
    e.port = off->serverPort();
    detail::RawClient c(e);
    c.offerExtensions(pmd::kBrowserOffer);
    QVERIFY2(c.open(), qPrintable(c.error()));
    QVERIFY(c.extensions().isEmpty());
    c.send(detail::FrameSpec{detail::Text, pmd::compress(detail::connectMessage()), true, true, 0x40});
    QCOMPARE(c.readCloseCode(), 1002);
}

QTEST_GUILESS_MAIN(tst_QtGatewayDeflate)
#include "tst_qtgatewaydeflate.moc"
