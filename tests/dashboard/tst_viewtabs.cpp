// Qt Quick Test of the dashboard's narrow-layout tabs (qml/tst_viewtabs.qml).

#include "DashboardQuickTest.h"

QUICK_TEST_MAIN_WITH_SETUP(viewtabs, DashboardQuickTestSetup)
