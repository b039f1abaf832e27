// Qt Quick Test of the dashboard's publish form (qml/tst_publishform.qml).

#include "DashboardQuickTest.h"

QUICK_TEST_MAIN_WITH_SETUP(publishform, DashboardQuickTestSetup)

