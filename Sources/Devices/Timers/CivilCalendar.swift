/// Proleptic Gregorian calendar arithmetic on day numbers (days since
/// 1970-01-01), so the real-time clock can keep time as a count of seconds
/// and turn it into date registers in constant time, however long the
/// machine ran. Years are counted from March inside each 400-year cycle,
/// which puts the leap day at the end of the counted year.
enum CivilCalendar {
    static let daysPerCycle = 146_097            // 400 Gregorian years
    static let cycleStartOffset = 719_468        // days from 0000-03-01 to 1970-01-01

    static func dayNumber(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let cycle = (y >= 0 ? y : y - 399) / 400
        let yearOfCycle = y - cycle * 400
        let monthFromMarch = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * monthFromMarch + 2) / 5 + day - 1
        let dayOfCycle = yearOfCycle * 365 + yearOfCycle / 4 - yearOfCycle / 100 + dayOfYear
        return cycle * daysPerCycle + dayOfCycle - cycleStartOffset
    }

    static func date(dayNumber: Int) -> (year: Int, month: Int, day: Int) {
        let z = dayNumber + cycleStartOffset
        let cycle = (z >= 0 ? z : z - (daysPerCycle - 1)) / daysPerCycle
        let dayOfCycle = z - cycle * daysPerCycle
        let yearOfCycle = (dayOfCycle - dayOfCycle / 1460 + dayOfCycle / 36_524 - dayOfCycle / (daysPerCycle - 1)) / 365
        let dayOfYear = dayOfCycle - (365 * yearOfCycle + yearOfCycle / 4 - yearOfCycle / 100)
        let monthFromMarch = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
        let month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
        let year = yearOfCycle + cycle * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    /// 1 = Sunday … 7 = Saturday, the PC's RTC convention (1970-01-01 was a Thursday).
    static func weekday(dayNumber: Int) -> Int {
        ((dayNumber + 4) % 7 + 7) % 7 + 1
    }
}
