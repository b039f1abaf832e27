// switchboard-gateway content filters on WebSocket subscriptions (the same core filter as SSE):
// a `severity=SEV-1` subscriber gets no SEV-2 event, live or on recovery; an invalid filter is
// an error frame and subscribes nothing; dotted event names (`incident.created`) are accepted
// over WebSocket and the HTTP API and can be filtered on.
#include "GatewayProcess.h"

using namespace gatewaytest;

namespace {

/// Sends a subscribe frame with `extra` members and returns the answer (subscribed or error).
std::optional<QJsonObject> subscribe(WsClient &c, const QString &channel, int ackId, const QJsonObject &extra = {})
{
    QJsonObject frame = extra;
    frame["op"] = "subscribe";
    frame["channel"] = channel;
    frame["ackId"] = ackId;
    c.send(frame);
    QDeadlineTimer deadline(5000);
    while (!deadline.hasExpired()) {
        for (qsizetype i = 0; i < c.frames().size(); ++i) {
            const QJsonObject &f = c.frames()[i];
            const QString op = f.value("op").toString();
            if ((op == "subscribed" || op == "error") && f.value("ackId").toInt() == ackId)
                return c.frames().takeAt(i);
        }
        QTest::qWait(5);
    }
    return std::nullopt;
}

int publishIncident(QNetworkAccessManager &nam, const GatewayProcess &g, const QString &event, const QString &severity, int n)
{
    return publish(nam, g, {{"channel", "incidents"}, {"event", event},
                            {"data", QJsonObject{{"severity", severity}, {"n", n}}}}).status;
}

/// The `n` of every message frame received so far, in order (consumed).
QList<int> receivedNumbers(WsClient &c)
{
    QList<int> out;
    for (qsizetype i = 0; i < c.frames().size();) {
        if (c.frames()[i].value("op").toString() == "message")
            out << c.frames().takeAt(i).value("data").toObject().value("n").toInt();
        else
            ++i;
    }
    return out;
}

} // namespace

class tst_GatewayFilters : public QObject
{
    Q_OBJECT

private slots:
    void websocketFilterWithholdsOtherSeverities();
    void websocketFilterForms();
    void invalidFilterIsAnError_data();
    void invalidFilterIsAnError();
    void recoveryReturnsOnlyMatches();
    void dottedEventNames();
    void sseFilterOnEventName();
};

void tst_GatewayFilters::websocketFilterWithholdsOtherSeverities()
{
    GatewayProcess g;
    QVERIFY(g.start());
    QNetworkAccessManager nam;
    WsClient sev1;
    WsClient all;
    QVERIFY(sev1.connectSession(g));
    QVERIFY(all.connectSession(g));
    QCOMPARE(subscribe(sev1, "incidents", 1, {{"filter", "severity=SEV-1"}})->value("op").toString(), "subscribed");
    QCOMPARE(subscribe(all, "incidents", 1)->value("op").toString(), "subscribed");

    QCOMPARE(publishIncident(nam, g, "incident.created", "SEV-2", 1), 200);
    QCOMPARE(publishIncident(nam, g, "incident.created", "SEV-1", 2), 200);
    // The unfiltered subscriber sees both; the filtered one only the SEV-1 event, and the SEV-2
    // one never arrives (the SEV-1 event was published after it on the same channel).
    QList<int> allSeen;
    QTRY_VERIFY_WITH_TIMEOUT((allSeen += receivedNumbers(all), allSeen.size() == 2), 5000);
    QCOMPARE(allSeen, (QList<int>{1, 2}));
    QList<int> sev1Seen;
    QTRY_VERIFY_WITH_TIMEOUT((sev1Seen += receivedNumbers(sev1), sev1Seen.size() >= 1), 5000);
    QCOMPARE(sev1Seen, QList<int>{2});

    const auto m = metrics(nam, g);
    QCOMPARE(m.value("switchboard_filter_evaluations_total"), 2.0);
    QCOMPARE(m.value("switchboard_filtered_total"), 1.0);
}

void tst_GatewayFilters::websocketFilterForms()
{
    GatewayProcess g;
    QVERIFY(g.start());
    QNetworkAccessManager nam;
    WsClient object;  // the seed's map form
    WsClient array;   // SSE's conditions, as an array
    WsClient notEqual;
    QVERIFY(object.connectSession(g));
    QVERIFY(array.connectSession(g));
    QVERIFY(notEqual.connectSession(g));
    QVERIFY(subscribe(object, "incidents", 1, {{"filter", QJsonObject{{"severity", "SEV-1"}, {"event", "incident.created"}}}})
                ->value("op").toString() == "subscribed");
    QVERIFY(subscribe(array, "incidents", 1, {{"filter", QJsonArray{"severity=SEV-1", "event=incident.created"}}})
                ->value("op").toString() == "subscribed");
    QVERIFY(subscribe(notEqual, "incidents", 1, {{"filter", "severity!=SEV-1"}})->value("op").toString() == "subscribed");

    QCOMPARE(publishIncident(nam, g, "incident.updated", "SEV-1", 1), 200);
    QCOMPARE(publishIncident(nam, g, "incident.created", "SEV-2", 2), 200);
    QCOMPARE(publishIncident(nam, g, "incident.created", "SEV-1", 3), 200);
    QList<int> objectSeen, arraySeen, notEqualSeen;
    QTRY_VERIFY_WITH_TIMEOUT((objectSeen += receivedNumbers(object), !objectSeen.isEmpty()), 5000);
    QTRY_VERIFY_WITH_TIMEOUT((arraySeen += receivedNumbers(array), !arraySeen.isEmpty()), 5000);
    QTRY_VERIFY_WITH_TIMEOUT((notEqualSeen += receivedNumbers(notEqual), !notEqualSeen.isEmpty()), 5000);
    QCOMPARE(objectSeen, QList<int>{3});
    QCOMPARE(arraySeen, QList<int>{3});
    QCOMPARE(notEqualSeen, QList<int>{2});
    // Equal filters (object and array spell the same one) are one group: two distinct filters,
    // three publications.
    QCOMPARE(metrics(nam, g).value("switchboard_filter_evaluations_total"), 6.0);
}

void tst_GatewayFilters::invalidFilterIsAnError_data()
{
    QTest::addColumn<QJsonValue>("filter");
    QTest::addColumn<QString>("problem");
    QTest::newRow("no operator") << QJsonValue("severity") << "field=value";
    QTest::newRow("no field") << QJsonValue("=SEV-1") << "no field";
    QTest::newRow("number") << QJsonValue(7) << "must be a string";
    QTest::newRow("empty array") << QJsonValue(QJsonArray{}) << "no condition";
    QTest::newRow("array of numbers") << QJsonValue(QJsonArray{1}) << "strings";
    QTest::newRow("empty segment") << QJsonValue(QJsonObject{{"a..b", "x"}}) << "empty segment";
}

void tst_GatewayFilters::invalidFilterIsAnError()
{
    QFETCH(QJsonValue, filter);
    QFETCH(QString, problem);
    GatewayProcess g;
    QVERIFY(g.start());
    QNetworkAccessManager nam;
    WsClient c;
    QVERIFY(c.connectSession(g));
    const auto answer = subscribe(c, "incidents", 5, {{"filter", filter}});
    QVERIFY(answer);
    QCOMPARE(answer->value("op").toString(), "error");
    QCOMPARE(answer->value("code").toInt(), 400);
    QVERIFY2(answer->value("message").toString().contains(problem), qPrintable(answer->value("message").toString()));
    QCOMPARE(answer->value("channel").toString(), "incidents");
    // Nothing subscribed: a publication does not arrive, the channel has no subscriber.
    QCOMPARE(publishIncident(nam, g, "incident.created", "SEV-1", 1), 200);
    QVERIFY(!c.waitFor("message", -1, 200));
    // (The channel is listed for its history, with no subscriber.)
    const auto channels = http(nam, "GET", g.url("/api/channels")).json()["channels"].toArray();
    for (const auto &channel : channels)
        QCOMPARE(channel.toObject().value("subscribers").toInt(), 0);
    QCOMPARE(metrics(nam, g).value("switchboard_invalid_filters_total"), 1.0);
    // The connection stays usable.
    QCOMPARE(subscribe(c, "incidents", 6)->value("op").toString(), "subscribed");
}

void tst_GatewayFilters::recoveryReturnsOnlyMatches()
{
    GatewayProcess g;
    QVERIFY(g.start());
    QNetworkAccessManager nam;
    WsClient first;
    QVERIFY(first.connectSession(g));
    const auto subscribed = subscribe(first, "incidents", 1);
    QVERIFY(subscribed && subscribed->value("op").toString() == "subscribed");
    const QString epoch = subscribed->value("epoch").toString();
    QVERIFY(!epoch.isEmpty());
    const int start = subscribed->value("offset").toInt();
    QCOMPARE(publishIncident(nam, g, "incident.created", "SEV-2", 1), 200);
    QCOMPARE(publishIncident(nam, g, "incident.created", "SEV-1", 2), 200);
    QCOMPARE(publishIncident(nam, g, "incident.created", "SEV-3", 3), 200);
    QCOMPARE(publishIncident(nam, g, "incident.created", "SEV-1", 4), 200);

    WsClient recovering;
    QVERIFY(recovering.connectSession(g));
    const auto answer = subscribe(recovering, "incidents", 2,
                                  {{"filter", "severity=SEV-1"},
                                   {"recover", QJsonObject{{"offset", start}, {"epoch", epoch}}}});
    QVERIFY(answer);
    QCOMPARE(answer->value("op").toString(), "subscribed");
    QVERIFY(answer->value("recovered").toBool());
    QList<int> numbers;
    for (const QJsonValue &p : answer->value("publications").toArray())
        numbers << p.toObject().value("data").toObject().value("n").toInt();
    QCOMPARE(numbers, (QList<int>{2, 4}));
    QCOMPARE(answer->value("offset").toInt(), start + 4); // the top: past the withheld ones too
}

void tst_GatewayFilters::dottedEventNames()
{
    GatewayProcess g;
    QVERIFY(g.start());
    QNetworkAccessManager nam;
    WsClient created;
    QVERIFY(created.connectSession(g));
    QCOMPARE(subscribe(created, "incidents", 1, {{"filter", "event=incident.created"}})->value("op").toString(), "subscribed");

    // HTTP API: a dotted event is accepted (was 422) ...
    QCOMPARE(publishIncident(nam, g, "incident.updated", "SEV-1", 1), 200);
    QCOMPARE(publishIncident(nam, g, "incident.created", "SEV-1", 2), 200);
    // ... an empty segment is still refused.
    QCOMPARE(publishIncident(nam, g, "incident..created", "SEV-1", 9), 422);
    QCOMPARE(publishIncident(nam, g, ".created", "SEV-1", 9), 422);

    // WebSocket publish: accepted too, and the filter on the event name selects it.
    WsClient publisher;
    QVERIFY(publisher.connectSession(g));
    QCOMPARE(subscribe(publisher, "incidents", 1)->value("op").toString(), "subscribed"); // publish needs it
    publisher.send({{"op", "publish"}, {"channel", "incidents"}, {"event", "incident.created"},
                    {"data", QJsonObject{{"n", 3}}}, {"ackId", 7}});
    const auto ack = publisher.waitFor("ack", 7);
    QVERIFY2(ack, "no ack for a dotted event");
    publisher.send({{"op", "publish"}, {"channel", "incidents"}, {"event", "incident."},
                    {"data", QJsonObject{{"n", 9}}}, {"ackId", 8}});
    const auto refused = publisher.waitFor("error", 8);
    QVERIFY(refused);
    QCOMPARE(refused->value("code").toInt(), 422);

    QList<int> seen;
    QTRY_VERIFY_WITH_TIMEOUT((seen += receivedNumbers(created), seen.size() >= 2), 5000);
    QCOMPARE(seen, (QList<int>{2, 3}));
}

void tst_GatewayFilters::sseFilterOnEventName()
{
    GatewayProcess g;
    QVERIFY(g.start());
    QNetworkAccessManager nam;
    // An invalid SSE filter is refused 400 with the problem named, and counted.
    const auto bad = http(nam, "GET", g.url("/sse?channels=incidents&filter=severity"), {}, false);
    QCOMPARE(bad.status, 400);
    QVERIFY2(bad.body.contains("field=value"), bad.body.constData());
    QCOMPARE(metrics(nam, g).value("switchboard_invalid_filters_total"), 1.0);

    // The SSE stream and a WebSocket subscriber with the same filter share one evaluation.
    QNetworkRequest request(g.url("/sse?channels=incidents&filter=event=incident.created&filter=severity=SEV-1"));
    request.setRawHeader("Accept", "text/event-stream");
    std::unique_ptr<QNetworkReply> sse(nam.get(request));
    QByteArray stream;
    QObject::connect(sse.get(), &QNetworkReply::readyRead, sse.get(), [&] { stream += sse->readAll(); });
    QTRY_VERIFY_WITH_TIMEOUT(stream.contains("retry:"), 5000);
    WsClient ws;
    QVERIFY(ws.connectSession(g));
    QCOMPARE(subscribe(ws, "incidents", 1, {{"filter", QJsonObject{{"severity", "SEV-1"}, {"event", "incident.created"}}}})
                 ->value("op").toString(),
             "subscribed");
    QCOMPARE(publishIncident(nam, g, "incident.updated", "SEV-1", 1), 200);
    QCOMPARE(publishIncident(nam, g, "incident.created", "SEV-2", 2), 200);
    QCOMPARE(publishIncident(nam, g, "incident.created", "SEV-1", 3), 200);
    QTRY_VERIFY_WITH_TIMEOUT(stream.contains("\"n\":3"), 5000);
    QVERIFY(!stream.contains("\"n\":1"));
    QVERIFY(!stream.contains("\"n\":2"));
    QList<int> seen;
    QTRY_VERIFY_WITH_TIMEOUT((seen += receivedNumbers(ws), !seen.isEmpty()), 5000);
    QCOMPARE(seen, QList<int>{3});
    QCOMPARE(metrics(nam, g).value("switchboard_filter_evaluations_total"), 3.0);
}

QTEST_MAIN(tst_GatewayFilters)
#include "tst_gatewayfilters.moc"
