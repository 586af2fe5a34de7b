package sense

import "fmt"

// Code is an additional sense code and its qualifier, ASC in the high byte
// and ASCQ in the low byte, so that 26/07 reads as 0x2607.
type Code uint16

// Additional sense codes used by the copy manager, block LUNs, tape drives
// and media changers (SPC-4 annex D, SSC-3, SMC-3). The names are the ones
// SPC-4 assigns.
const (
	NoAdditionalSense              Code = 0x0000 // NO ADDITIONAL SENSE INFORMATION
	FilemarkDetected               Code = 0x0001 // FILEMARK DETECTED
	EndOfPartitionDetected         Code = 0x0002 // END-OF-PARTITION/MEDIUM DETECTED
	SetmarkDetected                Code = 0x0003 // SETMARK DETECTED
	BeginningOfPartitionDetected   Code = 0x0004 // BEGINNING-OF-PARTITION/MEDIUM DETECTED
	EndOfDataDetected              Code = 0x0005 // END-OF-DATA DETECTED
	ProgrammableEarlyWarning       Code = 0x0007 // PROGRAMMABLE EARLY WARNING DETECTED
	OperationInProgress            Code = 0x0016 // OPERATION IN PROGRESS
	NotReadyCauseNotReportable     Code = 0x0400 // LOGICAL UNIT NOT READY, CAUSE NOT REPORTABLE
	BecomingReady                  Code = 0x0401 // LOGICAL UNIT IS IN PROCESS OF BECOMING READY
	NotReadyInitializingRequired   Code = 0x0402 // LOGICAL UNIT NOT READY, INITIALIZING COMMAND REQUIRED
	NotReadyManualIntervention     Code = 0x0403 // LOGICAL UNIT NOT READY, MANUAL INTERVENTION REQUIRED
	LUCommunicationFailure         Code = 0x0800 // LOGICAL UNIT COMMUNICATION FAILURE
	LUCommunicationTimeout         Code = 0x0801 // LOGICAL UNIT COMMUNICATION TIME-OUT
	UnreachableCopyTarget          Code = 0x0804 // UNREACHABLE COPY TARGET
	WriteError                     Code = 0x0C00 // WRITE ERROR
	ThirdPartyTemporaryInitiator   Code = 0x0D00 // ERROR DETECTED BY THIRD PARTY TEMPORARY INITIATOR
	ThirdPartyDeviceFailure        Code = 0x0D01 // THIRD PARTY DEVICE FAILURE
	CopyTargetNotReachable         Code = 0x0D02 // COPY TARGET DEVICE NOT REACHABLE
	IncorrectCopyTargetType        Code = 0x0D03 // INCORRECT COPY TARGET DEVICE TYPE
	CopyTargetDataUnderrun         Code = 0x0D04 // COPY TARGET DEVICE DATA UNDERRUN
	CopyTargetDataOverrun          Code = 0x0D05 // COPY TARGET DEVICE DATA OVERRUN
	UnrecoveredReadError           Code = 0x1100 // UNRECOVERED READ ERROR
	RecordedEntityNotFound         Code = 0x1400 // RECORDED ENTITY NOT FOUND
	ParameterListLengthError       Code = 0x1A00 // PARAMETER LIST LENGTH ERROR
	MiscompareDuringVerify         Code = 0x1D00 // MISCOMPARE DURING VERIFY OPERATION
	InvalidCommandOperationCode    Code = 0x2000 // INVALID COMMAND OPERATION CODE
	LBAOutOfRange                  Code = 0x2100 // LOGICAL BLOCK ADDRESS OUT OF RANGE
	InvalidElementAddress          Code = 0x2101 // INVALID ELEMENT ADDRESS
	InvalidFieldInCDB              Code = 0x2400 // INVALID FIELD IN CDB
	LUNotSupported                 Code = 0x2500 // LOGICAL UNIT NOT SUPPORTED
	InvalidFieldInParameterList    Code = 0x2600 // INVALID FIELD IN PARAMETER LIST
	ParameterNotSupported          Code = 0x2601 // PARAMETER NOT SUPPORTED
	ParameterValueInvalid          Code = 0x2602 // PARAMETER VALUE INVALID
	InvalidReleaseOfPR             Code = 0x2604 // INVALID RELEASE OF PERSISTENT RESERVATION
	TooManyTargetDescriptors       Code = 0x2606 // TOO MANY TARGET DESCRIPTORS
	UnsupportedTargetDescriptor    Code = 0x2607 // UNSUPPORTED TARGET DESCRIPTOR TYPE CODE
	TooManySegmentDescriptors      Code = 0x2608 // TOO MANY SEGMENT DESCRIPTORS
	UnsupportedSegmentDescriptor   Code = 0x2609 // UNSUPPORTED SEGMENT DESCRIPTOR TYPE CODE
	UnexpectedInexactSegment       Code = 0x260A // UNEXPECTED INEXACT SEGMENT
	InlineDataLengthExceeded       Code = 0x260B // INLINE DATA LENGTH EXCEEDED
	InvalidOperationForCopyTarget  Code = 0x260C // INVALID OPERATION FOR COPY SOURCE OR DESTINATION
	CopySegmentGranularity         Code = 0x260D // COPY SEGMENT GRANULARITY VIOLATION
	WriteProtected                 Code = 0x2700 // WRITE PROTECTED
	HardwareWriteProtected         Code = 0x2701 // HARDWARE WRITE PROTECTED
	SoftwareWriteProtected         Code = 0x2702 // LOGICAL UNIT SOFTWARE WRITE PROTECTED
	MediumMayHaveChanged           Code = 0x2800 // NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED
	PowerOnReset                   Code = 0x2900 // POWER ON, RESET, OR BUS DEVICE RESET OCCURRED
	BusDeviceResetOccurred         Code = 0x2903 // BUS DEVICE RESET FUNCTION OCCURRED
	ReservationsPreempted          Code = 0x2A03 // RESERVATIONS PREEMPTED
	ReservationsReleased           Code = 0x2A04 // RESERVATIONS RELEASED
	RegistrationsPreempted         Code = 0x2A05 // REGISTRATIONS PREEMPTED
	CommandSequenceError           Code = 0x2C00 // COMMAND SEQUENCE ERROR
	IncompatibleMedium             Code = 0x3000 // INCOMPATIBLE MEDIUM INSTALLED
	MediumFormatCorrupted          Code = 0x3100 // MEDIUM FORMAT CORRUPTED
	MediumNotPresent               Code = 0x3A00 // MEDIUM NOT PRESENT
	SequentialPositioningError     Code = 0x3B00 // SEQUENTIAL POSITIONING ERROR
	MediumDestinationFull          Code = 0x3B0D // MEDIUM DESTINATION ELEMENT FULL
	MediumSourceEmpty              Code = 0x3B0E // MEDIUM SOURCE ELEMENT EMPTY
	InternalTargetFailure          Code = 0x4400 // INTERNAL TARGET FAILURE
	WriteAppendError               Code = 0x5000 // WRITE APPEND ERROR
	SavingParametersNotSupported   Code = 0x3900 // SAVING PARAMETERS NOT SUPPORTED
	MediumRemovalPrevented         Code = 0x5302 // MEDIUM REMOVAL PREVENTED
	MediumRemovalPreventedByDTE    Code = 0x5303 // MEDIUM REMOVAL PREVENTED BY DATA TRANSFER ELEMENT
	InsufficientResources          Code = 0x5503 // INSUFFICIENT RESOURCES
	OperatorMediumRemovalRequested Code = 0x5A01 // OPERATOR MEDIUM REMOVAL REQUEST
)

// name returns the SPC-4 name of a code this package defines.
func (c Code) name() (string, bool) {
	switch c {
	case NoAdditionalSense:
		return "NO ADDITIONAL SENSE INFORMATION", true
	case FilemarkDetected:
		return "FILEMARK DETECTED", true
	case EndOfPartitionDetected:
		return "END-OF-PARTITION/MEDIUM DETECTED", true
	case SetmarkDetected:
		return "SETMARK DETECTED", true
	case BeginningOfPartitionDetected:
		return "BEGINNING-OF-PARTITION/MEDIUM DETECTED", true
	case EndOfDataDetected:
		return "END-OF-DATA DETECTED", true
	case ProgrammableEarlyWarning:
		return "PROGRAMMABLE EARLY WARNING DETECTED", true
	case OperationInProgress:
		return "OPERATION IN PROGRESS", true
	case NotReadyCauseNotReportable:
		return "LOGICAL UNIT NOT READY, CAUSE NOT REPORTABLE", true
	case BecomingReady:
		return "LOGICAL UNIT IS IN PROCESS OF BECOMING READY", true
	case NotReadyInitializingRequired:
		return "LOGICAL UNIT NOT READY, INITIALIZING COMMAND REQUIRED", true
	case NotReadyManualIntervention:
		return "LOGICAL UNIT NOT READY, MANUAL INTERVENTION REQUIRED", true
	case LUCommunicationFailure:
		return "LOGICAL UNIT COMMUNICATION FAILURE", true
	case LUCommunicationTimeout:
		return "LOGICAL UNIT COMMUNICATION TIME-OUT", true
	case UnreachableCopyTarget:
		return "UNREACHABLE COPY TARGET", true
	case WriteError:
		return "WRITE ERROR", true
	case ThirdPartyTemporaryInitiator:
		return "ERROR DETECTED BY THIRD PARTY TEMPORARY INITIATOR", true
	case ThirdPartyDeviceFailure:
		return "THIRD PARTY DEVICE FAILURE", true
	case CopyTargetNotReachable:
		return "COPY TARGET DEVICE NOT REACHABLE", true
	case IncorrectCopyTargetType:
		return "INCORRECT COPY TARGET DEVICE TYPE", true
	case CopyTargetDataUnderrun:
		return "COPY TARGET DEVICE DATA UNDERRUN", true
	case CopyTargetDataOverrun:
		return "COPY TARGET DEVICE DATA OVERRUN", true
	case UnrecoveredReadError:
		return "UNRECOVERED READ ERROR", true
	case RecordedEntityNotFound:
		return "RECORDED ENTITY NOT FOUND", true
	case ParameterListLengthError:
		return "PARAMETER LIST LENGTH ERROR", true
	case MiscompareDuringVerify:
		return "MISCOMPARE DURING VERIFY OPERATION", true
	case InvalidCommandOperationCode:
		return "INVALID COMMAND OPERATION CODE", true
	case LBAOutOfRange:
		return "LOGICAL BLOCK ADDRESS OUT OF RANGE", true
	case InvalidElementAddress:
		return "INVALID ELEMENT ADDRESS", true
	case InvalidFieldInCDB:
		return "INVALID FIELD IN CDB", true
	case LUNotSupported:
		return "LOGICAL UNIT NOT SUPPORTED", true
	case InvalidFieldInParameterList:
		return "INVALID FIELD IN PARAMETER LIST", true
	case ParameterNotSupported:
		return "PARAMETER NOT SUPPORTED", true
	case ParameterValueInvalid:
		return "PARAMETER VALUE INVALID", true
	case InvalidReleaseOfPR:
		return "INVALID RELEASE OF PERSISTENT RESERVATION", true
	case TooManyTargetDescriptors:
		return "TOO MANY TARGET DESCRIPTORS", true
	case UnsupportedTargetDescriptor:
		return "UNSUPPORTED TARGET DESCRIPTOR TYPE CODE", true
	case TooManySegmentDescriptors:
		return "TOO MANY SEGMENT DESCRIPTORS", true
	case UnsupportedSegmentDescriptor:
		return "UNSUPPORTED SEGMENT DESCRIPTOR TYPE CODE", true
	case UnexpectedInexactSegment:
		return "UNEXPECTED INEXACT SEGMENT", true
	case InlineDataLengthExceeded:
		return "INLINE DATA LENGTH EXCEEDED", true
	case InvalidOperationForCopyTarget:
		return "INVALID OPERATION FOR COPY SOURCE OR DESTINATION", true
	case CopySegmentGranularity:
		return "COPY SEGMENT GRANULARITY VIOLATION", true
	case WriteProtected:
		return "WRITE PROTECTED", true
	case HardwareWriteProtected:
		return "HARDWARE WRITE PROTECTED", true
	case SoftwareWriteProtected:
		return "LOGICAL UNIT SOFTWARE WRITE PROTECTED", true
	case MediumMayHaveChanged:
		return "NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED", true
	case PowerOnReset:
		return "POWER ON, RESET, OR BUS DEVICE RESET OCCURRED", true
	case BusDeviceResetOccurred:
		return "BUS DEVICE RESET FUNCTION OCCURRED", true
	case ReservationsPreempted:
		return "RESERVATIONS PREEMPTED", true
	case ReservationsReleased:
		return "RESERVATIONS RELEASED", true
	case RegistrationsPreempted:
		return "REGISTRATIONS PREEMPTED", true
	case CommandSequenceError:
		return "COMMAND SEQUENCE ERROR", true
	case IncompatibleMedium:
		return "INCOMPATIBLE MEDIUM INSTALLED", true
	case MediumFormatCorrupted:
		return "MEDIUM FORMAT CORRUPTED", true
	case MediumNotPresent:
		return "MEDIUM NOT PRESENT", true
	case SequentialPositioningError:
		return "SEQUENTIAL POSITIONING ERROR", true
	case MediumDestinationFull:
		return "MEDIUM DESTINATION ELEMENT FULL", true
	case MediumSourceEmpty:
		return "MEDIUM SOURCE ELEMENT EMPTY", true
	case InternalTargetFailure:
		return "INTERNAL TARGET FAILURE", true
	case WriteAppendError:
		return "WRITE APPEND ERROR", true
	case SavingParametersNotSupported:
		return "SAVING PARAMETERS NOT SUPPORTED", true
	case MediumRemovalPrevented:
		return "MEDIUM REMOVAL PREVENTED", true
	case MediumRemovalPreventedByDTE:
		return "MEDIUM REMOVAL PREVENTED BY DATA TRANSFER ELEMENT", true
	case InsufficientResources:
		return "INSUFFICIENT RESOURCES", true
	case OperatorMediumRemovalRequested:
		return "OPERATOR MEDIUM REMOVAL REQUEST", true
	}
	return "", false
}

// MakeCode joins an ASC and an ASCQ.
func MakeCode(asc, ascq byte) Code { return Code(asc)<<8 | Code(ascq) }

// ASC is the additional sense code.
func (c Code) ASC() byte { return byte(c >> 8) }

// ASCQ is the additional sense code qualifier.
func (c Code) ASCQ() byte { return byte(c) }

// String returns the SPC-4 name followed by the code, like
// "INVALID FIELD IN CDB (24/00)", or only the code if it has no name here.
func (c Code) String() string {
	if name, ok := c.name(); ok {
		return fmt.Sprintf("%s (%02X/%02X)", name, c.ASC(), c.ASCQ())
	}
	return fmt.Sprintf("ASC/ASCQ %02X/%02X", c.ASC(), c.ASCQ())
}
