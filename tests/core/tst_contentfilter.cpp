// ContentFilter: parsing and matching, and the Hub's use of it: one evaluation per distinct
// filter of a channel, the shared frame to every matching subscriber, filtered recovery.
#include "HubTestSupport.h"

#include "switchboard/ContentFilter.h"

#include <QtTest>

namespace {

std::shared_ptr<const ContentFilter> filterOf(std::vector<std::string_view> conditions)
{
    std::string problem;
    auto filter = ContentFilter::parse(conditions, problem);
    if (!filter)
        throw std::logic_error("test filter does not parse: " + problem);
    return std::make_shared<const ContentFilter>(std::move(*filter));
}

void publish(Hub &hub, std::string_view channel, std::string_view event, std::string_view data)
{
    Publication publication;
    publication.channel = std::string(channel);
    publication.event = std::string(event);
    publication.data = std::string(data);
    std::error_code error;
    hub.publish(std::move(publication), [&](std::error_code e, StreamPosition) { error = e; });
    if (error)
        throw std::logic_error("publish failed: " + error.message());
}

std::vector<std::string> eventsOf(const RecordingSession &session)
{
    std::vector<std::string> out;
    for (std::size_t i = 0; i < session.frames.size(); ++i) {
        const auto frame = session.json(i);
        if (frame.at("op").as_string() == "message")
            out.emplace_back(frame.at("event").as_string());
    }
    return out;
}

} // namespace

class TestContentFilter : public QObject {
    Q_OBJECT
private slots:
    void parse_data();
    void parse();
    void matches_data();
    void matches();
    void fromJson_data();
    void fromJson();
    void equalFiltersShareAKey();
    void binaryHasNoData();
    void hubEvaluatesOncePerDistinctFilter();
    void hubSharesOneFrameAcrossGroups();
    void leaveAndDetachEmptyGroups();
    void presenceReachesFilteredSubscribers();
    void recoveryReturnsOnlyMatches();
};

void TestContentFilter::parse_data()
{
    QTest::addColumn<QStringList>("conditions");
    QTest::addColumn<QString>("problem"); // empty: valid; else a word the problem must hold
    QTest::newRow("equality") << QStringList{"severity=SEV-1"} << "";
    QTest::newRow("inequality") << QStringList{"severity!=SEV-3"} << "";
    QTest::newRow("event") << QStringList{"event=incident.created"} << "";
    QTest::newRow("nested path") << QStringList{"service.tier=gold"} << "";
    QTest::newRow("explicit data") << QStringList{"data.event=x"} << "";
    QTest::newRow("value holds =") << QStringList{"q=a=b"} << "";
    QTest::newRow("empty value") << QStringList{"note="} << "";
    QTest::newRow("several") << QStringList{"severity=SEV-1", "event=incident.created"} << "";
    QTest::newRow("no condition") << QStringList{} << "no condition";
    QTest::newRow("no operator") << QStringList{"severity"} << "field=value";
    QTest::newRow("no field") << QStringList{"=SEV-1"} << "no field";
    QTest::newRow("no field before !=") << QStringList{"!=SEV-1"} << "no field";
    QTest::newRow("empty segment") << QStringList{"a..b=1"} << "empty segment";
    QTest::newRow("trailing dot") << QStringList{"a.=1"} << "empty segment";
    QTest::newRow("too deep") << QStringList{"a.b.c.d.e.f.g.h.i=1"} << "deeper";
    // Problems quote at most 64 bytes of the text, with "..." when they leave some out.
    QTest::newRow("long field quoted in part") << QStringList{QString(70, 'a') + "..b=1"} << "'" + QString(64, 'a') + "...'";
    QTest::newRow("short field quoted whole") << QStringList{"a..b=1"} << "'a..b'";
    QTest::newRow("too long") << QStringList{"a=" + QString(kMaxFilterConditionLength, 'x')} << "longer";
    QStringList many;
    for (std::size_t i = 0; i <= kMaxFilterConditions; ++i)
        many << QString("f%1=1").arg(i);
    QTest::newRow("too many") << many << "at most";
}

void TestContentFilter::parse()
{
    QFETCH(QStringList, conditions);
    QFETCH(QString, problem);
    std::vector<std::string> texts;
    for (const QString &c : conditions)
        texts.push_back(c.toStdString());
    std::vector<std::string_view> views(texts.begin(), texts.end());
    std::string found;
    const auto filter = ContentFilter::parse(views, found);
    if (problem.isEmpty()) {
        QVERIFY2(filter.has_value(), found.c_str());
        QVERIFY(!filter->key().empty());
    } else {
        QVERIFY(!filter);
        QVERIFY2(QString::fromStdString(found).contains(problem), found.c_str());
    }
}

void TestContentFilter::matches_data()
{
    QTest::addColumn<QStringList>("conditions");
    QTest::addColumn<QString>("event");
    QTest::addColumn<QString>("data");
    QTest::addColumn<bool>("match");
    const QString incident = R"({"severity":"SEV-1","count":3,"urgent":true,"service":{"tier":"gold"},"event":"inner"})";
    QTest::newRow("string equal") << QStringList{"severity=SEV-1"} << "incident.created" << incident << true;
    QTest::newRow("string differs") << QStringList{"severity=SEV-2"} << "incident.created" << incident << false;
    QTest::newRow("number as text") << QStringList{"count=3"} << "e" << incident << true;
    QTest::newRow("bool as text") << QStringList{"urgent=true"} << "e" << incident << true;
    QTest::newRow("nested") << QStringList{"service.tier=gold"} << "e" << incident << true;
    QTest::newRow("explicit data prefix") << QStringList{"data.service.tier=gold"} << "e" << incident << true;
    QTest::newRow("missing field") << QStringList{"region=eu"} << "e" << incident << false;
    QTest::newRow("path through a string") << QStringList{"severity.x=1"} << "e" << incident << false;
    QTest::newRow("object compared as JSON") << QStringList{R"(service={"tier":"gold"})"} << "e" << incident << true;
    QTest::newRow("event matches") << QStringList{"event=incident.created"} << "incident.created" << incident << true;
    QTest::newRow("event differs") << QStringList{"event=incident.created"} << "incident.updated" << incident << false;
    QTest::newRow("data member named event") << QStringList{"data.event=inner"} << "x" << incident << true;
    QTest::newRow("not equal holds") << QStringList{"severity!=SEV-3"} << "e" << incident << true;
    QTest::newRow("not equal fails") << QStringList{"severity!=SEV-1"} << "e" << incident << false;
    QTest::newRow("not equal, field absent") << QStringList{"region!=eu"} << "e" << incident << true;
    QTest::newRow("event not equal") << QStringList{"event!=incident.created"} << "sla.breach" << incident << true;
    QTest::newRow("all must hold") << QStringList{"severity=SEV-1", "event=incident.updated"} << "incident.created" << incident << false;
    QTest::newRow("all hold") << QStringList{"severity=SEV-1", "event=incident.created"} << "incident.created" << incident << true;
    QTest::newRow("data not an object") << QStringList{"severity=SEV-1"} << "e" << "[1,2]" << false;
    QTest::newRow("data not JSON") << QStringList{"severity=SEV-1"} << "e" << "{oops" << false;
    QTest::newRow("top-level value") << QStringList{"event=e"} << "e" << "7" << true;
}

void TestContentFilter::matches()
{
    QFETCH(QStringList, conditions);
    QFETCH(QString, event);
    QFETCH(QString, data);
    QFETCH(bool, match);
    std::vector<std::string> texts;
    for (const QString &c : conditions)
        texts.push_back(c.toStdString());
    const auto filter = filterOf(std::vector<std::string_view>(texts.begin(), texts.end()));
    Publication publication;
    publication.channel = "incidents";
    publication.event = event.toStdString();
    publication.data = data.toStdString();
    QCOMPARE(filter->matches(publication), match);
}

void TestContentFilter::fromJson_data()
{
    QTest::addColumn<QString>("json");
    QTest::addColumn<bool>("valid");
    QTest::addColumn<bool>("sev1"); // matches {"severity":"SEV-1"} published as incident.created
    QTest::newRow("string") << R"("severity=SEV-1")" << true << true;
    QTest::newRow("array") << R"(["severity=SEV-1","event=incident.created"])" << true << true;
    QTest::newRow("object (the seed's map)") << R"({"severity":"SEV-1"})" << true << true;
    QTest::newRow("object with event") << R"({"severity":"SEV-1","event":"incident.updated"})" << true << false;
    QTest::newRow("object number member") << R"({"count":3})" << true << false;
    QTest::newRow("number") << "7" << false << false;
    QTest::newRow("bool") << "true" << false << false;
    QTest::newRow("array of numbers") << "[1]" << false << false;
    QTest::newRow("empty array") << "[]" << false << false;
    QTest::newRow("empty object") << "{}" << false << false;
    QTest::newRow("object empty key") << R"({"":"x"})" << false << false;
}

void TestContentFilter::fromJson()
{
    QFETCH(QString, json);
    QFETCH(bool, valid);
    QFETCH(bool, sev1);
    std::string problem;
    const auto filter = ContentFilter::fromJson(boost::json::parse(json.toStdString()), problem);
    QCOMPARE(filter.has_value(), valid);
    if (!valid) {
        QVERIFY(!problem.empty());
        return;
    }
    Publication publication;
    publication.event = "incident.created";
    publication.data = R"({"severity":"SEV-1"})";
    QCOMPARE(filter->matches(publication), sev1);
}

void TestContentFilter::equalFiltersShareAKey()
{
    std::string problem;
    const auto a = ContentFilter::parse({"severity=SEV-1", "event=incident.created"}, problem);
    const auto b = ContentFilter::parse({"event=incident.created", "severity=SEV-1", "severity=SEV-1"}, problem);
    const auto c = ContentFilter::fromJson(boost::json::parse(R"({"event":"incident.created","severity":"SEV-1"})"), problem);
    const auto d = ContentFilter::parse({"severity=SEV-2", "event=incident.created"}, problem);
    const auto e = ContentFilter::parse({"severity!=SEV-1", "event=incident.created"}, problem);
    QVERIFY(a && b && c && d && e);
    QCOMPARE(a->key(), b->key());
    QCOMPARE(a->key(), c->key());
    QCOMPARE(b->conditions().size(), std::size_t(2));
    QVERIFY(a->key() != d->key());
    QVERIFY(a->key() != e->key());
    // A value holding the separators cannot collide with two conditions.
    const auto f = ContentFilter::parse({"a=1\nb=2"}, problem);
    const auto g = ContentFilter::parse({"a=1", "b=2"}, problem);
    QVERIFY(f && g);
    QVERIFY(f->key() != g->key());
}

void TestContentFilter::binaryHasNoData()
{
    Publication publication;
    publication.event = "blob";
    publication.data = R"({"severity":"SEV-1"})";
    publication.binary = true;
    QVERIFY(!filterOf({"severity=SEV-1"})->matches(publication));
    QVERIFY(filterOf({"severity!=SEV-1"})->matches(publication));
    QVERIFY(filterOf({"event=blob"})->matches(publication));
}

void TestContentFilter::hubEvaluatesOncePerDistinctFilter()
{
    ManualTimer timer;
    Hub hub(timer);
    constexpr int kDistinct = 10;
    constexpr int kPerFilter = 100;
    std::vector<std::shared_ptr<RecordingSession>> sessions;
    std::vector<std::string> texts;
    for (int f = 0; f < kDistinct; ++f)
        texts.push_back("severity=SEV-" + std::to_string(f));
    for (int f = 0; f < kDistinct; ++f) {
        for (int i = 0; i < kPerFilter; ++i) {
            auto session = std::make_shared<RecordingSession>();
            sessions.push_back(session);
            JoinRequest request;
            request.filter = filterOf({texts[f]}); // a fresh, equal filter object per subscriber
            QVERIFY(!joinNow(hub, hub.attach(session), "incidents", request).error);
        }
    }
    auto unfiltered = std::make_shared<RecordingSession>();
    QVERIFY(!joinNow(hub, hub.attach(unfiltered), "incidents").error);
    QCOMPARE(hub.subscriberCount("incidents"), std::size_t(kDistinct * kPerFilter + 1));

    publish(hub, "incidents", "incident.created", R"({"severity":"SEV-3"})");
    auto counters = hub.counters();
    QCOMPARE(counters.filterEvaluations, std::uint64_t(kDistinct));
    QCOMPARE(counters.filteredOut, std::uint64_t((kDistinct - 1) * kPerFilter));
    QCOMPARE(counters.framesOut, std::uint64_t(kPerFilter + 1));
    for (int f = 0; f < kDistinct; ++f)
        for (int i = 0; i < kPerFilter; ++i)
            QCOMPARE(sessions[std::size_t(f * kPerFilter + i)]->frames.size(), std::size_t(f == 3 ? 1 : 0));
    QCOMPARE(unfiltered->frames.size(), std::size_t(1));

    publish(hub, "incidents", "incident.created", R"({"severity":"SEV-9"})");
    QCOMPARE(hub.counters().filterEvaluations, std::uint64_t(2 * kDistinct));
}

void TestContentFilter::hubSharesOneFrameAcrossGroups()
{
    ManualTimer timer;
    Hub hub(timer);
    auto a = std::make_shared<RecordingSession>();
    auto b = std::make_shared<RecordingSession>();
    auto c = std::make_shared<RecordingSession>();
    JoinRequest sev1;
    sev1.filter = filterOf({"severity=SEV-1"});
    JoinRequest created;
    created.filter = filterOf({"event=incident.created"});
    JoinRequest sev2;
    sev2.filter = filterOf({"severity=SEV-2"});
    QVERIFY(!joinNow(hub, hub.attach(a), "incidents", sev1).error);
    QVERIFY(!joinNow(hub, hub.attach(b), "incidents", created).error);
    QVERIFY(!joinNow(hub, hub.attach(c), "incidents", sev2).error);

    publish(hub, "incidents", "incident.created", R"({"severity":"SEV-1"})");
    QCOMPARE(a->frames.size(), std::size_t(1));
    QCOMPARE(b->frames.size(), std::size_t(1));
    QCOMPARE(c->frames.size(), std::size_t(0));
    QCOMPARE(a->frames[0].get(), b->frames[0].get()); // one encoding, shared
    publish(hub, "incidents", "incident.updated", R"({"severity":"SEV-2"})");
    QCOMPARE(eventsOf(*a), std::vector<std::string>{"incident.created"});
    QCOMPARE(eventsOf(*b), std::vector<std::string>{"incident.created"});
    QCOMPARE(eventsOf(*c), std::vector<std::string>{"incident.updated"});
}

void TestContentFilter::leaveAndDetachEmptyGroups()
{
    ManualTimer timer;
    Hub hub(timer);
    auto a = std::make_shared<RecordingSession>();
    auto b = std::make_shared<RecordingSession>();
    auto c = std::make_shared<RecordingSession>();
    const auto idA = hub.attach(a);
    const auto idB = hub.attach(b);
    const auto idC = hub.attach(c);
    JoinRequest sev1;
    sev1.filter = filterOf({"severity=SEV-1"});
    QVERIFY(!joinNow(hub, idA, "incidents", sev1).error);
    QVERIFY(!joinNow(hub, idB, "incidents", sev1).error);
    QVERIFY(!joinNow(hub, idC, "incidents").error);
    // Removing the first of a group moves the last into its place: the moved one still gets
    // its frames, the removed one none.
    QVERIFY(!hub.leave(idA, "incidents"));
    QCOMPARE(hub.subscriberCount("incidents"), std::size_t(2));
    publish(hub, "incidents", "e", R"({"severity":"SEV-1"})");
    QCOMPARE(a->frames.size(), std::size_t(0));
    QCOMPARE(b->frames.size(), std::size_t(1));
    QCOMPARE(c->frames.size(), std::size_t(1));
    QCOMPARE(hub.counters().filterEvaluations, std::uint64_t(1));
    // The group's last member leaves: nothing is evaluated for it any more.
    hub.detach(idB);
    publish(hub, "incidents", "e", R"({"severity":"SEV-1"})");
    QCOMPARE(hub.counters().filterEvaluations, std::uint64_t(1));
    QCOMPARE(c->frames.size(), std::size_t(2));
    // A rejoin after the group is gone works.
    QVERIFY(!joinNow(hub, idA, "incidents", sev1).error);
    publish(hub, "incidents", "e", R"({"severity":"SEV-1"})");
    QCOMPARE(a->frames.size(), std::size_t(1));
    hub.detach(idC);
    hub.detach(idA);
    QCOMPARE(hub.subscriberCount("incidents"), std::size_t(0));
    QCOMPARE(hub.counters().channels, std::size_t(0));
}

void TestContentFilter::presenceReachesFilteredSubscribers()
{
    ManualTimer timer;
    Hub hub(timer);
    hub.setAuthorizer([](const AuthRequest &) { AuthDecision decision; decision.allowed = true; return decision; });
    auto watcher = std::make_shared<RecordingSession>();
    JoinRequest filtered;
    filtered.filter = filterOf({"severity=SEV-1"});
    QVERIFY(!joinNow(hub, hub.attach(watcher, Principal{"w", {}, {}}), "presence-room", filtered).error);
    QVERIFY(!joinNow(hub, hub.attach(std::make_shared<RecordingSession>(), Principal{"n", {}, {}}), "presence-room").error);
    // Filters select publications; presence changes reach every subscriber.
    QCOMPARE(watcher->presenceFrames().size(), std::size_t(1));
}

void TestContentFilter::recoveryReturnsOnlyMatches()
{
    MemoryHub m(rules({HistoryRule{"", 100, std::chrono::milliseconds(0)}}));
    const JoinResult first = m.join("incidents", std::nullopt);
    QVERIFY(!first.error);
    const StreamPosition start = first.position;
    publish(m.hub, "incidents", "incident.created", R"({"severity":"SEV-2"})");
    publish(m.hub, "incidents", "incident.created", R"({"severity":"SEV-1","n":1})");
    publish(m.hub, "incidents", "incident.updated", R"({"severity":"SEV-1","n":2})");
    publish(m.hub, "incidents", "incident.created", R"({"severity":"SEV-1","n":3})");

    const auto id = m.hub.attach(std::make_shared<RecordingSession>());
    JoinRequest request;
    request.recover = start;
    request.filter = filterOf({"severity=SEV-1", "event=incident.created"});
    const JoinResult result = joinNow(m.hub, id, "incidents", request);
    QVERIFY(!result.error);
    QVERIFY(result.recovered);
    QCOMPARE(result.missed.size(), std::size_t(2));
    QCOMPARE(result.missed[0].offset, start.offset + 2);
    QCOMPARE(result.missed[1].offset, start.offset + 4);
    QCOMPARE(result.position.offset, start.offset + 4); // the top, so the client moves past all four
}

QTEST_APPLESS_MAIN(TestContentFilter)
#include "tst_contentfilter.moc"
