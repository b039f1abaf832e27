// Runs every tst_*.qml of this folder (Qt Quick Test).
#include <QtQuickTest>

QUICK_TEST_MAIN(switchboard)
