// Package autoscale keeps an app's web dyno count between a minimum and a
// maximum, adding and removing dynos to hold the p95 service time of its
// web requests at a target: Heroku's web dyno autoscaling, for any
// runtime.
//
// # Vocabulary and lifecycle
//
// A Policy is an app's range (Min, Max; Min at least 1) and desired p95.
// The Autoscaler reads each app's request metrics from Metrics (a
// *router.Router) and changes its web dyno count through Scaler (the
// platform, which records the change as a scaling made by the autoscaler,
// with the Event's reason). Enable turns autoscaling on for an app (or
// changes its policy) and, as Heroku does, brings a count outside the range
// into it at once; Disable turns it off and leaves the dynos as they are.
// Run evaluates every Interval (a minute by default) until its context
// ends; Evaluate is one round, for a platform that drives its own clock.
//
// # Decisions
//
// Each round looks at the requests since the previous one (the difference
// of two router snapshots, router.AppStats.Sub) and, as Heroku's
// autoscaling does, changes the count by one dyno at most, so scaling
// events are at least an Interval apart:
//
//   - up by one when the interval's p95 is over the desired one and at
//     least MinRequests requests reached a dyno (fewer say too little);
//   - down by one when the p95 has been under half the desired one, or no
//     request reached a dyno, for DownAfter rounds in a row (five by
//     default): scaling down is slower than scaling up, so a dyno just
//     added is not removed before its effect shows;
//   - back into the range when the count was moved out of it by hand.
//
// Requests answered without a dyno (H14 and the like) and upgraded
// connections have no service time, so they count for neither; H12
// timeouts count as 30 s.
//
// # Differences from Heroku
//
// Heroku's engine fits the last hour of data to find the fewest dynos
// that meet the target at the current throughput. This one is a feedback
// loop on the last interval with hysteresis: it reacts within an interval
// to a rise and needs no model of the app, but it finds the right count
// by steps of one dyno per interval. Heroku offers autoscaling on
// Performance dynos only; here any size may autoscale. Heroku mails the
// app's collaborators when the count reaches the maximum while the p95 is
// still over the target, at most once a day; here a Scaler that is also a
// MaxNotifier is told, at most once per NotifyEvery (a day), and sends
// what it likes.
package autoscale
