// Loads a QML example of the documentation (tests/docs/run_examples.py) and waits, under a
// deadline, until a JavaScript expression over the file's ids holds:
//   docs_qml_host FILE.qml EXPRESSION TIMEOUT_MS
// Exit 0 when it holds, 1 when the deadline passes (the expression's last value is printed),
// 2 when the file does not load. The import path comes from QML_IMPORT_PATH.
#include <QDeadlineTimer>
#include <QGuiApplication>
#include <QQmlApplicationEngine>
#include <QQmlContext>
#include <QQmlExpression>
#include <QTimer>
#include <QUrl>

#include <cstdio>

int main(int argc, char **argv)
{
    QGuiApplication app(argc, argv);
    if (argc != 4) {
        std::fprintf(stderr, "usage: docs_qml_host FILE.qml EXPRESSION TIMEOUT_MS\n");
        return 2;
    }
    const QString expression = QString::fromUtf8(argv[2]);
    const QDeadlineTimer deadline(QString::fromUtf8(argv[3]).toInt());
    QQmlApplicationEngine engine;
    engine.load(QUrl::fromLocalFile(QString::fromLocal8Bit(argv[1])));
    if (engine.rootObjects().isEmpty()) {
        std::fprintf(stderr, "%s did not load\n", argv[1]);
        return 2;
    }
    QObject *root = engine.rootObjects().constFirst();
    QQmlExpression check(qmlContext(root), root, expression);
    QTimer poll;
    QObject::connect(&poll, &QTimer::timeout, &app, [&] {
        bool undefined = false;
        const QVariant value = check.evaluate(&undefined);
        if (!check.hasError() && value.toBool()) {
            std::printf("holds: %s\n", qPrintable(expression));
            app.exit(0);
        } else if (deadline.hasExpired()) {
            std::printf("does not hold within the deadline: %s (value %s%s)\n", qPrintable(expression),
                        qPrintable(value.toString()),
                        check.hasError() ? qPrintable(", error " + check.error().toString()) : "");
            app.exit(1);
        }
        check.clearError();
    });
    poll.start(50);
    return app.exec();
}
