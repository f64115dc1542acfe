// Command validate checks Kubernetes manifests offline: every document must decode strictly into
// its typed Kubernetes object (unknown or mistyped fields fail), and the suite's own rules hold
// (probes, resources, an autoscaler per service). It needs no cluster and no network.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: validate FILE.yaml [...]")
		os.Exit(2)
	}
	decoder := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
	var problems []string
	deployments := map[string]bool{}
	scaled := map[string]bool{}
	count := 0
	for _, path := range os.Args[1:] {
		raw, err := os.ReadFile(path)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
		for {
			doc, err := reader.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", path, err))
				break
			}
			if len(bytes.TrimSpace(doc)) == 0 {
				continue
			}
			obj, _, err := decoder.Decode(doc, nil, nil)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", path, err))
				continue
			}
			count++
			problems = append(problems, check(obj, deployments, scaled)...)
		}
	}
	for name := range deployments {
		if !scaled[name] {
			problems = append(problems, fmt.Sprintf("Deployment %s has no HorizontalPodAutoscaler", name))
		}
	}
	if len(problems) > 0 {
		fmt.Fprintln(os.Stderr, strings.Join(problems, "\n"))
		os.Exit(1)
	}
	fmt.Printf("%d objects valid\n", count)
}

func check(obj runtime.Object, deployments, scaled map[string]bool) []string {
	var out []string
	switch o := obj.(type) {
	case *appsv1.Deployment:
		deployments[o.Name] = true
		out = append(out, containers("Deployment "+o.Name, o.Spec.Template.Spec.Containers, true)...)
	case *appsv1.StatefulSet:
		out = append(out, containers("StatefulSet "+o.Name, o.Spec.Template.Spec.Containers, false)...)
	case *autoscalingv2.HorizontalPodAutoscaler:
		if o.Spec.ScaleTargetRef.Kind == "Deployment" {
			scaled[o.Spec.ScaleTargetRef.Name] = true
		}
		if o.Spec.MinReplicas == nil || *o.Spec.MinReplicas < 1 || o.Spec.MaxReplicas < *o.Spec.MinReplicas {
			out = append(out, "HorizontalPodAutoscaler "+o.Name+": replicas out of order")
		}
	case *corev1.Service:
		if len(o.Spec.Selector) == 0 {
			out = append(out, "Service "+o.Name+" selects nothing")
		}
	}
	return out
}

func containers(owner string, cs []corev1.Container, probes bool) []string {
	var out []string
	if len(cs) == 0 {
		out = append(out, owner+" has no container")
	}
	for _, c := range cs {
		if c.Image == "" {
			out = append(out, owner+"/"+c.Name+": no image")
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
			out = append(out, owner+"/"+c.Name+": cpu request and memory limit are required")
		}
		if probes && (c.ReadinessProbe == nil || c.LivenessProbe == nil) {
			out = append(out, owner+"/"+c.Name+": readiness and liveness probes are required")
		}
	}
	return out
}
