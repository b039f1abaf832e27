#pragma once
// Conversions between JSON (Boost.JSON values, JSON text) and QVariant for the Qt layer.

#include <boost/json/value.hpp>

#include <QString>
#include <QVariant>

#include <string>
#include <string_view>

namespace switchboard::qt::detail {

/// null -> invalid QVariant, numbers -> qint64 / quint64 / double, strings -> QString,
/// arrays -> QVariantList, objects -> QVariantMap.
QVariant toVariant(const boost::json::value &value);
/// Parses JSON text; invalid or empty text gives an invalid QVariant.
QVariant jsonTextToVariant(std::string_view text);
/// Serializes a QVariant (also a QJSValue from QML) as compact JSON text ("null" when invalid).
std::string variantToJsonText(const QVariant &value);

inline QString toQString(std::string_view text)
{
    return QString::fromUtf8(text.data(), static_cast<qsizetype>(text.size()));
}

} // namespace switchboard::qt::detail
