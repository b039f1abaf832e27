#pragma once
// TestCertificates: throwaway CAs and certificates for TLS tests, made at test time with the
// openssl program in a temporary directory (EC P-256, valid two days). The directory and its
// files go with the object.

#include "ChildProcessGuard.h"

#include <QDebug>
#include <QFile>
#include <QProcess>
#include <QStringList>
#include <QTemporaryDir>

namespace testsupport {

class TestCertificates {
public:
    bool isValid() const { return m_dir.isValid(); }
    /// The absolute path of `name` in the directory (e.g. "ca.pem").
    QString file(const QString &name) const { return m_dir.filePath(name); }

    /// Runs the openssl program in the directory (bounded: 20 s); true when it succeeded.
    bool openssl(const QStringList &args) const
    {
        QProcess p;
        dieWithTest(p);
        p.setWorkingDirectory(m_dir.path());
        p.setProcessChannelMode(QProcess::MergedChannels);
        p.start(QStringLiteral("openssl"), args);
        if (!p.waitForFinished(20000) || p.exitCode() != 0) {
            qWarning() << "openssl" << args << p.readAll();
            return false;
        }
        return true;
    }

    /// A self-signed CA: `name`.pem and `name`.key.
    bool makeCa(const QString &name) const
    {
        return openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-keyout", name + ".key", "-out", name + ".pem", "-days", "2", "-subj", "/CN=" + name});
    }

    /// `name`.pem and `name`.key, signed by the CA `ca`, for the subject alternative names `san`
    /// (openssl syntax, e.g. "IP:127.0.0.1,DNS:localhost").
    bool makeCertificate(const QString &name, const QString &ca, const QString &san) const
    {
        QFile ext(file(name + ".cnf"));
        if (!ext.open(QIODevice::WriteOnly))
            return false;
        ext.write("subjectAltName=" + san.toUtf8() + "\n");
        ext.close();
        return openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                        name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name})
            && openssl({"x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
                        "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile", name + ".cnf"});
    }

private:
    QTemporaryDir m_dir;
};

} // namespace testsupport
