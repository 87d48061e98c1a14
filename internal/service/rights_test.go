package service_test

import (
	"testing"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

// TestActorRights states each role's rights as the front ends ask them.
func TestActorRights(t *testing.T) {
	admin := &service.Actor{User: store.User{ID: 1, Role: store.RoleAdmin}}
	auditor := &service.Actor{User: store.User{ID: 2, Role: store.RoleAuditor}}
	user := &service.Actor{User: store.User{ID: 3, Role: store.RoleUser}}
	var nobody *service.Actor
	for _, c := range []struct {
		name                      string
		actor                     *service.Actor
		editSelf, editOther       bool
		tokensSelf, tokensOther   bool
		addPOP3, addSMTP, addIMAP bool
		assign                    bool
		changeOwn, changeOther    bool
		changeOwnerless           bool
	}{
		{"admin", admin, true, true, true, true, true, true, true, true, true, true, true},
		{"auditor", auditor, true, false, true, false, false, false, false, false, false, false, false},
		{"user", user, true, false, true, false, false, false, true, false, true, false, false},
		{"nobody", nobody, false, false, false, false, false, false, false, false, false, false, false},
	} {
		self := int64(0)
		if c.actor != nil {
			self = c.actor.User.ID
		}
		got := []bool{c.actor.CanEditUser(self), c.actor.CanEditUser(99), c.actor.CanManageTokens(self), c.actor.CanManageTokens(99),
			c.actor.CanAddMailbox(store.MailboxPOP3), c.actor.CanAddMailbox(store.MailboxSMTP), c.actor.CanAddMailbox(store.MailboxIMAP),
			c.actor.CanAssignMailboxes(), c.actor.CanChangeMailbox(self), c.actor.CanChangeMailbox(99), c.actor.CanChangeMailbox(0)}
		want := []bool{c.editSelf, c.editOther, c.tokensSelf, c.tokensOther, c.addPOP3, c.addSMTP, c.addIMAP, c.assign,
			c.changeOwn, c.changeOther, c.changeOwnerless}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s: right %d is %v, want %v", c.name, i, got[i], want[i])
			}
		}
	}
}
