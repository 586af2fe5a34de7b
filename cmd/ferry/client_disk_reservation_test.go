package main

import (
	"testing"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

func TestReservationText(t *testing.T) {
	a := &ferryv1.PRNexus{Initiator: "iqn.a,i,0x1", TargetPort: 2}
	reg := []*ferryv1.PRRegistration{{Nexus: a, Key: 1}, {Nexus: &ferryv1.PRNexus{Initiator: "iqn.b,i,0x2"}, Key: 2}}
	tests := []struct {
		r    *ferryv1.PersistentReservation
		want string
	}{
		{nil, "-"},
		{&ferryv1.PersistentReservation{Generation: 4}, "-"},
		{&ferryv1.PersistentReservation{Registrations: reg}, "none (2 keys registered)"},
		{&ferryv1.PersistentReservation{Registrations: reg, Reserved: true, Type: 6, Holder: a}, "Exclusive Access, Registrants Only by iqn.a,i,0x1"},
		{&ferryv1.PersistentReservation{Registrations: reg, Reserved: true, Type: 7}, "Write Exclusive, All Registrants (2 registrants)"},
		{&ferryv1.PersistentReservation{LegacyHolder: a}, "RESERVE(6) by iqn.a,i,0x1"},
	}
	for _, tc := range tests {
		if got := reservationText(&ferryv1.Disk{Reservation: tc.r}); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.r, got, tc.want)
		}
	}
}
