import Devices

/// Opening the configured images, attaching them to the IDE controller,
/// and telling SeaBIOS the boot order.
extension Machine {
    func attachDrives() throws(MachineError) {
        let ide = board.ide
        for d in configuration.drives {
            do throws(StorageError) {
                let position: IDEPosition = d.isSlave ? .slave : .master
                switch d.media {
                case .cdrom:
                    ide.attach(ATAPIDrive(medium: try ISOImage(path: d.path), serialNumber: "NB-CD-\(d.index)"),
                               channel: d.channel, position: position)
                case .disk:
                    let access: DiskImage.Access = configuration.snapshot ? .snapshot : (d.readOnly ? .readOnly : .readWrite)
                    ide.attach(ATADrive(disk: try DiskImage.open(path: d.path, access: access), serialNumber: "NB-HD-\(d.index)"),
                               channel: d.channel, position: position)
                }
            } catch {
                throw MachineError(error.description)
            }
        }
        board.firmwareConfig.addFile("bootorder", FirmwareConfig.bootOrder(bootDevicePaths()))
        board.bootOrder = bootDeviceClasses()
    }

    /// OpenFirmware paths SeaBIOS matches for IDE drives on a PIIX3 at 00:01.1.
    func bootDevicePaths() -> [String] {
        var paths: [String] = []
        for letter in configuration.bootOrder {
            let media: DriveConfiguration.Media? = letter == "c" ? .disk : letter == "d" ? .cdrom : nil
            for d in configuration.drives.sorted(by: { $0.index < $1.index }) where d.media == media {
                paths.append("/pci@i0cf8/ide@1,1/drive@\(d.channel)/disk@\(d.isSlave ? 1 : 0)")
            }
        }
        return paths
    }

    /// The same order for the CMOS boot-order bytes (QEMU's legacy path).
    func bootDeviceClasses() -> [RealTimeClock.BootDevice] {
        configuration.bootOrder.compactMap { letter -> RealTimeClock.BootDevice? in
            switch letter {
            case "a": return .floppy
            case "c": return .hardDisk
            case "d": return .cdrom
            case "n": return .network
            default: return nil
            }
        }
    }

    /// Writes every guest write through to the image files. Called on every
    /// clean exit; the drives also flush on the guest's FLUSH CACHE.
    public func flushDisks() throws(MachineError) {
        do throws(StorageError) { try board.ide.flushAll() } catch { throw MachineError("writing the disk images failed: \(error)") }
    }
}
