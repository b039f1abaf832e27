// Qt Quick Test of the dashboard's rate chart (qml/tst_ratechart.qml).

#include "DashboardQuickTest.h"

QUICK_TEST_MAIN_WITH_SETUP(ratechart, DashboardQuickTestSetup)

