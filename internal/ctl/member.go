package ctl

import (
	"fmt"
	"io"
	"time"

	"hecd/internal/client"
)

const memberHelp = `NAME:
   etcdctl member - list, add, remove or update the cluster's members

USAGE:
   etcdctl member command [command options] [arguments...]

COMMANDS:
   list    print the cluster's members
   add     add a member to the cluster
   remove  remove a member from the cluster
   update  change a member's peer URLs

OPTIONS:
   --help, -h  show help
   
`

// member is "member list|add|remove|update". hecd's client can list the
// members but not change them, so add, remove and update check their
// arguments (remove also that the member exists) as etcdctl does and then
// say that the change is not supported.
func member(r *run, _ *cmdOptions, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "h" {
		io.WriteString(r.stdout, memberHelp)
		return exitSuccess
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "list":
		if len(args) != 0 {
			fmt.Fprintln(r.stderr, "No arguments accepted")
			return exitBadArgs
		}
		return memberList(r)
	case "add":
		if len(args) != 2 {
			fmt.Fprintln(r.stderr, "Provide a name and a single member peerURL")
			return exitBadArgs
		}
		return memberChangeUnsupported(r, "add")
	case "remove":
		if len(args) != 1 {
			fmt.Fprintln(r.stderr, "Provide a single member ID")
			return exitBadArgs
		}
		return memberRemove(r, args[0])
	case "update":
		if len(args) != 2 {
			fmt.Fprintln(r.stderr, "Provide an ID and a list of comma separated peerURL (0xabcd http://example.com,http://example1.com)")
			return exitBadArgs
		}
		return memberChangeUnsupported(r, "update")
	default:
		fmt.Fprintf(r.stderr, "No help topic for '%s'\n", sub)
		return exitBadFeature
	}
}

func memberChangeUnsupported(r *run, sub string) int {
	fmt.Fprintf(r.stderr, "hecd ctl: member %s is not supported: hecd's client cannot change the membership\n", sub)
	return exitBadFeature
}

func memberList(r *run) int {
	c, code := r.newClient(true)
	if c == nil {
		return code
	}
	defer c.Close()
	ctx, cancel := r.requestContext()
	defer cancel()
	members, err := c.Members(ctx)
	if err != nil {
		fmt.Fprintln(r.stderr, errorText(err))
		return exitBadArgs
	}
	leader, err := c.Leader(ctx)
	if err != nil {
		fmt.Fprintln(r.stderr, "Failed to get leader: ", errorText(err))
		return exitBadArgs
	}
	for _, m := range members {
		io.WriteString(r.stdout, formatMember(m, leader.ID))
	}
	return exitSuccess
}

func memberRemove(r *run, id string) int {
	c, code := r.newClient(true)
	if c == nil {
		return code
	}
	defer c.Close()
	ctx, cancel := r.requestContext()
	defer cancel()
	members, err := c.Members(ctx)
	if err != nil {
		fmt.Fprintln(r.stderr, "Error while verifying ID against known members:", errorText(err))
		return exitBadArgs
	}
	found := false
	for _, m := range members {
		if m.ID == id {
			found = true
		}
		if m.Name == id {
			fmt.Fprintf(r.stderr, "Found a member named %s; if this is correct, please use its ID, eg:\n\tetcdctl member remove %s\n\n", m.Name, m.ID)
			fmt.Fprintf(r.stderr, "For more details, read the documentation at https://github.com/etcd-io/etcd/blob/master/Documentation/runtime-configuration.md#remove-a-member\n\n")
		}
	}
	if !found {
		fmt.Fprintf(r.stderr, "Couldn't find a member in the cluster with an ID of %s.\n", id)
		return exitBadArgs
	}
	return memberChangeUnsupported(r, "remove")
}

// clusterHealth asks every member's client URLs for /health, without
// syncing first (a cluster that cannot list its members is reported as
// possibly unhealthy, status 4). With --forever it repeats every 10 s
// until interrupted.
func clusterHealth(r *run, o *cmdOptions, _ []string) int {
	c, code := r.newClient(false)
	if c == nil {
		return code
	}
	defer c.Close()
	for {
		code := r.checkHealth(c)
		if !o.forever {
			return code
		}
		select {
		case <-r.ctx.Done():
			return exitSuccess
		case <-time.After(10 * time.Second):
		}
		fmt.Fprintln(r.stdout)
	}
}

func (r *run) checkHealth(c *client.Client) int {
	ctx, cancel := r.requestContext()
	members, err := c.Members(ctx)
	cancel()
	if err != nil {
		fmt.Fprintln(r.stdout, "cluster may be unhealthy: failed to list members")
		return r.fail(exitServerError, err)
	}
	cfg, err := r.clientConfig()
	if err != nil {
		return r.fail(exitBadArgs, err)
	}
	healthy := 0
	for _, m := range members {
		if len(m.ClientURLs) == 0 {
			fmt.Fprintf(r.stdout, "member %s is unreachable: no available published client urls\n", m.ID)
			continue
		}
		checked := false
		for _, u := range m.ClientURLs {
			ok, err := memberHealth(r, cfg, u)
			if err != nil {
				fmt.Fprintf(r.stdout, "failed to check the health of member %s on %s: %v\n", m.ID, u, err)
				continue
			}
			checked = true
			if ok {
				healthy++
				fmt.Fprintf(r.stdout, "member %s is healthy: got healthy result from %s\n", m.ID, u)
			} else {
				fmt.Fprintf(r.stdout, "member %s is unhealthy: got unhealthy result from %s\n", m.ID, u)
			}
			break
		}
		if !checked {
			fmt.Fprintf(r.stdout, "member %s is unreachable: %v are all unreachable\n", m.ID, m.ClientURLs)
		}
	}
	switch {
	case len(members) > 0 && healthy == len(members):
		fmt.Fprintln(r.stdout, "cluster is healthy")
		return exitSuccess
	case healthy > 0:
		fmt.Fprintln(r.stdout, "cluster is degraded")
	default:
		fmt.Fprintln(r.stdout, "cluster is unavailable")
	}
	return exitClusterNotHealthy
}

// memberHealth asks one client URL for /health.
func memberHealth(r *run, cfg client.Config, url string) (bool, error) {
	cfg.Endpoints = []string{url}
	c, err := client.New(cfg)
	if err != nil {
		return false, err
	}
	defer c.Close()
	ctx, cancel := r.requestContext()
	defer cancel()
	return c.Health(ctx)
}
